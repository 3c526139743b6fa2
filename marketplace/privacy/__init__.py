"""A person's own data: everything the marketplace holds about a buyer, handed over as one archive."""
