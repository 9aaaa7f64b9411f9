"""The pieces the stage tabs are built from; each file is one widget and knows nothing of the engine's threads."""
