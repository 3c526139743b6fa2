"""The buyer's persistent cart. It stores SKUs and quantities only; prices are always read fresh."""
