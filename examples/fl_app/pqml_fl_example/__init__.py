"""A Flower app that trains logistic regression with pqml update protection on."""
