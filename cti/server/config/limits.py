"""What the board layer accepts (drivers.board, csrc/hal.h) and the limits of the
sections, so that a file is checked against the board it drives."""
from __future__ import annotations

from drivers import board
from drivers.hal import lib

SIGNALLING = tuple(board.SIGNALLING)    # pri, cas, clear
LAWS = tuple(board.LAWS)                # alaw, ulaw
PORT_KINDS = tuple(board.PORT_KINDS)    # fxs, fxo
BACKENDS = ("sim", "dahdi")
MAX_SPANS = lib.HAL_MAX_SPANS           # csrc/hal.h
MAX_PORTS = lib.HAL_MAX_PORTS
FRAMES_PER_MS = 8       # G.704: 8000 frames/s
TICK_MS_MIN, TICK_MS_MAX = 5, 100
MAX_CABLE_DELAY_BITS = 4096  # what hal_sim_cable_connect accepts (16 frames of line time)
IPC_PATH_MAX = 107      # sun_path holds 108 bytes with the NUL
