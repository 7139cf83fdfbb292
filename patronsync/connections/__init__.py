"""S/FTP definitions (connections) and the transports that fetch feed files through them."""
