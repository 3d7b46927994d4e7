// Stub (issue 7): the Unicorn arm guest glue.
