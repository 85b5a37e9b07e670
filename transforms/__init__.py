"""Hamilton modules: the trips contract, the features, and the tables they assemble into."""
