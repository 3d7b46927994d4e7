// Stub (issue 7): the Unicorn x86 guest glue.
