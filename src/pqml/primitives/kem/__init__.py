"""Key-encapsulation mechanisms, one module per scheme; the registry maps names to them."""
