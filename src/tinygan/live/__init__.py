"""The live view: `tinygan serve`, a page in the browser that shows training as it happens and steers it.

`session.py` trains (one game, a thread playing compiled chunks), `settings.py` checks what the page may
change, `payload.py` turns states into what the page draws, `app.py` is the web app (HTTP for controls, a
WebSocket for frames) and `server.py` runs it.
"""
