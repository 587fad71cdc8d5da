//! volkszaehler database layer.
