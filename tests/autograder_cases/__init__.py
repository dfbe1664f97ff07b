"""Generated submissions for the autograder's end-to-end tests and benchmark."""
