"""Staff logins, their roles per institution, and what each role may do."""
