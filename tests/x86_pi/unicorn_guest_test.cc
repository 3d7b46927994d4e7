// Stub (issue 7): tests of the Unicorn x86 guest.
