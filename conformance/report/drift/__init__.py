"""The spec-drift report: live API vs contract, published document vs contract, and change since last night."""
