"""The interactive playground: a FastAPI server and one offline page (``overfitlab serve``)."""
