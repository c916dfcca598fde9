"""Human motion capture for the tracker: clip quality on the G1 model, automatic repairs, the prepared dataset."""
