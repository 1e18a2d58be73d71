"""The message catalogues (`en.toml`, `ko.toml`), read by `rebalance.i18n`."""
