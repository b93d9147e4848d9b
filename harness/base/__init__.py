"""The bottom layer: errors, statuses, precision, signals, progress, parallel maps, integration and Taylor-mode
expansions; it imports no other part of the harness."""
