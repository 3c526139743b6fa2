"""Pre-sale questions: a buyer asks the shop selling a product, the shop answers (pushed live to the asker) and
may make the question and its answer public on the product page."""
