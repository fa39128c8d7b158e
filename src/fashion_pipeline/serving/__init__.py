"""The champion as a product: the model a user sends 28x28 images to, over HTTP or from files."""
