"""Pure domain logic: no ipywidgets, bqplot or Voila may be imported here."""
