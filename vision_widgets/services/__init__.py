"""Use cases. Every public function takes the acting Principal and checks it."""
