// The plan loader lives here (issue 3).
