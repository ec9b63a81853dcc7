"""Site-camera vision: data generator, training, runtime detector, rules, camera worker."""
