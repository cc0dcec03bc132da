#!/usr/bin/python3
"""A GTK 4 window with one text field: prints what it holds when Enter is pressed, then quits.
tests/session_clients.rs drives it (Debian's python3-gi and gir1.2-gtk-4.0)."""
import sys

import gi

gi.require_version("Gtk", "4.0")
from gi.repository import Gtk  # noqa: E402


def activate(app):
    window = Gtk.ApplicationWindow(application=app, title=sys.argv[1])
    entry = Gtk.Entry()

    def done(field):
        print(field.get_text(), flush=True)
        app.quit()

    entry.connect("activate", done)
    window.set_child(entry)
    window.present()
    entry.grab_focus()


app = Gtk.Application(application_id="org.weft.EntryGtk4")
app.connect("activate", activate)
sys.exit(app.run([sys.argv[0]]))
