"""What the book can lose next: shocks of the underlying over the next minutes (issue 25)."""
