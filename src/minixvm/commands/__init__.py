"""Host-side commands of the ``minixvm`` tool (e.g. ``mkfs``)."""
