//! The volkszaehler `config.yaml` schema.
