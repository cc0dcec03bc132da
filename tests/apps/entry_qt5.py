#!/usr/bin/python3
"""A Qt 5 window with one text field: prints what it holds when Enter is pressed, then quits.
tests/session_clients.rs drives it on Wayland (qtwayland5) and on X11 through XWayland (Debian's
python3-pyqt5)."""
import sys

from PyQt5.QtWidgets import QApplication, QLineEdit

app = QApplication(sys.argv[:1])
field = QLineEdit()
field.setWindowTitle(sys.argv[1])
field.resize(320, 60)


def done():
    print(field.text(), flush=True)
    app.quit()


field.returnPressed.connect(done)
field.show()
field.activateWindow()
field.setFocus()
sys.exit(app.exec_())
