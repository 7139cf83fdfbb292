"""``feed convert``: an SIS export (CSV, JSON, JSON Lines) to Alma User XML, as a mapping says."""
