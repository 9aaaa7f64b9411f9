"""Measuring what the models learned.

- ``benchmark``     the Evaluation stage: benchmark grading with confidence, blind ratings, red-team pairs
- ``lessons``       the seven measured lessons
- ``lesson_probes`` the questions the lessons ask
- ``lesson_models`` the small variant models some lessons train and compare
"""
