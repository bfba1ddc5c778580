# Slow and scheduler-sensitive tests are tagged :slow; scripts/test includes them.
ExUnit.start(exclude: [:slow])
