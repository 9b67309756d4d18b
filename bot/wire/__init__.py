"""What crosses a boundary, as typed models: one place for the shapes of the product's data.

- ``enums``: the closed vocabularies (conversation status, message role, reply action, label
  source) as ``StrEnum``s, so a typo is a type error and not a silently wrong filter.
- ``messages``: ``ChatMessage``, the one reading of a stored message row and its payload, and
  the views of it each reader gets (customer widget, staff live socket, console, export).
- ``live``: the hub's events (what staff sockets and other processes hear); they survive a
  JSON round trip (``model_dump(mode="json")`` / ``LIVE_EVENT.validate_python``), which is how
  ``RedisHub`` carries them between processes.
- ``customer``: the frames the server sends on the customer socket (``/ws/chat``), which are also
  the events the chat layer's turn emits to its output port.

This package depends on pydantic and the database models only, so the chat layer, the sockets,
the console API and the database queries can all share it without depending on each other.
"""
