"""A whole session in one file.

- ``state``    one immutable state object per stage, and the session's layout (``SessionState``)
- ``archive``  the session zip: writing atomically, reading with every part checked, the autosave
"""
