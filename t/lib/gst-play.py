#!/usr/bin/python3
# t/lib/gst-play.py: play a stream with GStreamer's playbin3 (hlsdemux2,
# decodebin3, the decoders GStreamer has) into fake sinks that keep the
# clock, and count the video frames played.
#
#   /usr/bin/python3 t/lib/gst-play.py URI FRAMES SECONDS
#
# Stops at FRAMES frames, at the first error or after SECONDS; prints one
# JSON object: frames, the video caps of the last frame, the errors (the
# bus's ERROR messages) and the seconds it took.  Exit code 0 when FRAMES
# frames played without an error.

import json
import sys
import time

import gi

gi.require_version('Gst', '1.0')
from gi.repository import GLib, Gst  # noqa: E402


def main():
    uri, want, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    Gst.init(None)

    play = Gst.ElementFactory.make('playbin3', None)
    vsink = Gst.ElementFactory.make('fakesink', None)
    asink = Gst.ElementFactory.make('fakesink', None)
    if play is None or vsink is None or asink is None:
        print(json.dumps({'frames': 0, 'errors': ['no playbin3']}))
        return 1
    vsink.set_property('signal-handoffs', True)
    vsink.set_property('sync', True)
    asink.set_property('sync', True)
    play.set_property('uri', uri)
    play.set_property('video-sink', vsink)
    play.set_property('audio-sink', asink)

    loop = GLib.MainLoop()
    state = {'frames': 0, 'errors': [], 'caps': None}

    def handoff(sink, buf, pad):
        state['frames'] += 1
        if state['frames'] == want:
            caps = pad.get_current_caps()
            state['caps'] = caps.to_string() if caps else None
            GLib.idle_add(loop.quit)

    def message(bus, msg):
        if msg.type == Gst.MessageType.ERROR:
            err, debug = msg.parse_error()
            state['errors'].append(err.message)
            loop.quit()

    vsink.connect('handoff', handoff)
    bus = play.get_bus()
    bus.add_signal_watch()
    bus.connect('message', message)
    GLib.timeout_add(int(secs * 1000), loop.quit)

    t0 = time.time()
    play.set_state(Gst.State.PLAYING)
    loop.run()
    play.set_state(Gst.State.NULL)

    state['seconds'] = round(time.time() - t0, 1)
    print(json.dumps(state))
    return 0 if state['frames'] >= want and not state['errors'] else 1


if __name__ == '__main__':
    sys.exit(main())
