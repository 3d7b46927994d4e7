// Stub (issue 7): tests of the Unicorn arm guest.
