"""The tachyon node: the exchange served over the network (HTTP API, sequencer).

`create_app` builds the ASGI application over one data directory; the `Sequencer` owns the
exchange host on one worker thread and group-commits what requests submit.
"""

from tachyon.node.app import create_app as create_app
from tachyon.node.sequencer import Sequencer as Sequencer

__all__ = ["Sequencer", "create_app"]
