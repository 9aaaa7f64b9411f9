"""Training Explorer's desktop interface (PySide6 + pyqtgraph + superqt).

The GUI only draws what the engine reports. Models and runs live in ``engine`` and know nothing of
Qt; here, long engine work runs on a worker thread (``training_controller``, ``background``) and its
plain event objects are turned into widget updates on the GUI thread.

- ``app``                 the entry point: ``main()``, command-line options, screenshots
- ``main_window``         the window: one tab per stage of making a model, the View menu
- ``zoom``                one zoom level for every font, control and plot (Mu-style)
- ``settings``            the QSettings file inside the user's config folder
- ``background``          short jobs (tokenizing, measuring, sampling) off the GUI thread
- ``training_controller`` one training run on one worker thread, as Qt signals
- ``pretraining_tab``     the Pretraining stage: settings on the left, live results on the right
- ``widgets``             the pieces the tabs are made of
"""
