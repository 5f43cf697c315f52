"""Board targets of the Dysta scheduler (docs/boards.md).

- :mod:`boards.link`: ``HostLink``, the scheduler with an NPU stand-in and a UART host link;
- :mod:`boards.protocol`: the link's framing; :mod:`boards.client`: the host client;
- :mod:`boards.simlink`: the board top-level in Amaranth's simulator, for the client;
- :mod:`boards.build`: ULX3S-85F and iCEBreaker bitstreams (amaranth-boards, YoWASP), and a
  ZCU104 platform for Vivado users (build plan only).
"""
