"""The subcommands of `mycli`, one module per area."""
