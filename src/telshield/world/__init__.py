"""The province simulator: feeds of a Jiangsu-like network, with ground truth kept apart."""
