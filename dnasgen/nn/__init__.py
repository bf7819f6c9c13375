"""Elastic MobileNetV2 supernet and static subnet extraction (torch)."""
from dnasgen.nn.checkpoint import (load_static, load_supernet, save_static, save_supernet,
                                   space_from_dict, space_to_dict)
from dnasgen.nn.static import StaticNet
from dnasgen.nn.supernet import Supernet

__all__ = ["Supernet", "StaticNet", "load_supernet", "save_supernet", "load_static", "save_static",
           "space_to_dict", "space_from_dict"]
