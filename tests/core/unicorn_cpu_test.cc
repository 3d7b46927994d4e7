// Tests of the Unicorn CPU wrapper (issue 7).
