"""The Gradio chat, mounted into the FastAPI app at /ui. No diagnosis logic lives here."""
