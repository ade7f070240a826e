"""The compliance console: server-rendered pages at ``/console`` for analysts and officers."""
