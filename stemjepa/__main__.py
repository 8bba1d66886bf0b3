from stemjepa.cli import app

app()
