"""Generate daemon/ml/data/imagenet_keywords.csv: the 1000 ImageNet-1k classes as photo keywords.

Rules by class-index ranges (the animal classes come in WordNet order) and by name lists (objects), plus hand
fixes for names that are ambiguous or odd as keywords. Every class must be covered exactly once.
Usage: python scripts/make_imagenet_keywords.py [LABELS_TXT] [OUT_CSV]
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_LABELS = REPO.parent / "shared" / "models" / "squeezenet1.0-fp16-onnx" / "Labels.txt"
DEFAULT_OUT = REPO / "daemon" / "ml" / "data" / "imagenet_keywords.csv"

# Raw labels must be unique: these first names repeat in Labels.txt.
RAW_LABEL = {134: "crane (bird)", 517: "crane (machine)", 639: "tank suit"}

# The keyword a class stands for when its name is ambiguous or odd as a photo keyword (by index).
# fmt: off
LEAF = {
    7: "rooster", 8: "hen", 20: "dipper", 21: "kite", 33: "loggerhead turtle", 40: "anole", 42: "agama lizard",
    39: "iguana", 47: "chameleon", 67: "diamondback rattlesnake", 68: "sidewinder rattlesnake", 70: "harvestman",
    97: "duck", 101: "tusker elephant", 134: "crane", 153: "Maltese", 161: "basset hound", 164: "bluetick coonhound",
    168: "redbone coonhound", 192: "cairn terrier", 195: "Boston terrier", 204: "Lhasa apso", 216: "clumber spaniel",
    217: "English springer spaniel", 224: "Groenendael", 225: "Malinois", 236: "Dobermann", 241: "Entlebucher",
    249: "Alaskan malamute", 254: "pug", 255: "Leonberger", 260: "chow chow", 262: "Brussels griffon",
    263: "Pembroke Welsh corgi", 264: "Cardigan Welsh corgi", 268: "Mexican hairless dog", 281: "tabby cat",
    296: "polar bear", 301: "ladybird", 308: "fly", 321: "admiral butterfly", 322: "ringlet butterfly",
    323: "monarch butterfly", 326: "blue butterfly", 332: "Angora rabbit", 339: "horse", 341: "pig", 345: "ox",
    348: "ram", 349: "bighorn sheep", 354: "camel", 383: "lemur", 385: "Asian elephant", 387: "red panda",
    389: "barracuda", 391: "coho salmon", 393: "clownfish", 395: "gar fish", 397: "pufferfish", 409: "clock",
    412: "trash can", 418: "ballpoint pen", 419: "adhesive bandage", 421: "banister", 427: "barrel",
    428: "wheelbarrow", 436: "station wagon", 437: "lighthouse", 442: "bell tower", 444: "tandem bicycle",
    456: "bow and arrow", 458: "plaque", 459: "bra", 468: "taxi", 474: "cardigan", 478: "carton", 480: "cash machine",
    484: "catamaran", 487: "mobile phone", 493: "chest of drawers", 506: "coil spring", 508: "computer keyboard",
    509: "sweet shop", 513: "cornet", 517: "crane", 520: "baby cot", 521: "slow cooker", 536: "dock",
    540: "oil platform", 553: "filing cabinet", 559: "folding chair", 564: "four-poster bed", 565: "freight wagon",
    576: "gondola", 578: "gown", 581: "grille", 584: "hair clip", 588: "laundry basket", 589: "hair dryer",
    590: "handheld computer", 592: "hard disk", 598: "home cinema", 605: "mp3 player", 606: "clothes iron",
    608: "jeans", 610: "t-shirt", 612: "rickshaw", 616: "knot", 622: "lens cap", 628: "ocean liner", 630: "loafer",
    633: "magnifying glass", 635: "compass", 636: "mailbag", 638: "swimsuit", 639: "swimsuit", 643: "mask",
    644: "matches", 651: "microwave oven", 657: "missile", 662: "modem", 664: "computer monitor",
    666: "mortar and pestle", 667: "graduation cap", 673: "computer mouse", 676: "dog muzzle", 680: "baby bottle",
    681: "notebook computer", 687: "pipe organ", 692: "packet", 694: "paddle steamer", 697: "pajamas",
    704: "parking meter", 705: "railway carriage", 707: "payphone", 714: "guitar pick", 715: "spiked helmet",
    717: "pickup truck", 724: "pirate ship", 726: "hand plane", 730: "plough", 731: "plunger", 733: "pole",
    737: "soda bottle", 738: "flowerpot", 744: "projectile", 746: "ice hockey puck", 751: "race car",
    752: "tennis racket", 757: "camper van", 758: "fishing reel", 759: "SLR camera", 764: "rifle", 769: "ruler",
    770: "running shoe", 776: "saxophone", 778: "weighing scale", 781: "scoreboard", 782: "screen", 796: "balaclava",
    800: "slot machine", 810: "space bar", 836: "sunglasses", 837: "sunglasses", 840: "mop", 844: "light switch",
    847: "tank", 850: "teddy bear", 853: "thatched roof", 862: "torch", 867: "lorry", 874: "trolleybus", 876: "tub",
    878: "typewriter", 881: "upright piano", 882: "vacuum cleaner", 884: "vault", 885: "velvet",
    897: "washing machine", 904: "window screen", 905: "window blind", 906: "tie", 908: "aircraft wing", 911: "wool",
    912: "rail fence", 913: "shipwreck", 914: "yawl", 916: "website", 921: "book", 923: "plate of food",
    925: "consomme", 926: "hot pot", 929: "ice lolly", 930: "baguette", 934: "hot dog", 936: "cabbage", 948: "apple",
    958: "hay", 959: "carbonara", 961: "dough", 964: "pot pie", 967: "espresso", 970: "alps", 972: "cliff",
    975: "lakeside", 976: "headland", 977: "sandbar", 978: "seashore", 981: "baseball player",
    986: "lady's slipper orchid", 987: "corn", 989: "rose hip", 990: "horse chestnut", 992: "agaric",
    996: "hen-of-the-woods", 998: "ear of corn", 999: "toilet paper",
}
# fmt: on

# Extra plain keywords for single classes (beyond their group's).
# fmt: off
EXTRA = {
    22: ["eagle"], 23: ["bird of prey"], 21: ["bird of prey"], 24: ["owl"], 25: ["salamander"], 28: ["salamander"],
    26: ["newt"], 27: ["newt"], 84: ["peacock"], 99: ["goose"], 100: ["swan"], 144: ["pelican"], 145: ["penguin"],
    146: ["seabird"], 127: ["stork"], 128: ["stork"], 131: ["heron"], 132: ["heron"], 133: ["heron"], 147: ["whale"],
    148: ["whale", "orca"], 265: ["poodle"], 266: ["poodle"], 267: ["poodle"], 272: ["coyote"], 287: ["lynx"],
    335: ["squirrel"], 338: ["guinea pig"], 345: ["cattle", "cow"], 346: ["cattle"], 348: ["sheep"], 349: ["sheep"],
    350: ["goat"], 331: ["hare"], 340: ["zebra"], 309: ["bee"], 310: ["ant"], 319: ["dragonfly"],
    404: ["airplane", "aircraft"], 895: ["airplane", "aircraft", "military"], 908: ["airplane"], 405: ["aircraft"],
    812: ["spacecraft", "rocket"], 657: ["rocket"], 744: ["rocket"], 403: ["ship", "military"], 510: ["ship"],
    628: ["ship", "cruise ship"], 724: ["ship"], 780: ["ship", "sailboat"], 484: ["sailboat"], 871: ["sailboat"],
    914: ["sailboat"], 913: ["ship"], 833: ["submarine"], 717: ["truck"], 867: ["truck"], 864: ["truck"],
    569: ["truck"], 675: ["truck", "van"], 555: ["truck"], 734: ["van", "police"], 407: ["emergency vehicle"],
    654: ["bus"], 779: ["bus"], 874: ["bus"], 829: ["tram"], 466: ["train"], 547: ["train"],
    820: ["train", "steam engine"], 565: ["train"], 705: ["train"], 665: ["motorbike"], 670: ["motorbike", "scooter"],
    444: ["bicycle"], 671: ["bicycle"], 847: ["military vehicle"], 586: ["military vehicle"], 757: ["motorhome"],
    402: ["guitar"], 546: ["guitar"], 579: ["piano"], 881: ["piano"], 776: ["saxophone"], 513: ["trumpet"],
    566: ["horn"], 714: ["guitar"], 487: ["phone"], 528: ["phone"], 707: ["phone"], 508: ["computer"],
    527: ["computer"], 620: ["computer"], 681: ["computer", "laptop"], 664: ["computer"], 673: ["computer"],
    759: ["camera"], 732: ["camera"], 851: ["tv"], 413: ["rifle", "gun"], 764: ["gun"], 763: ["gun", "pistol"],
    409: ["clock"], 530: ["clock"], 892: ["clock"], 531: ["watch"], 826: ["watch"], 559: ["chair"], 423: ["chair"],
    765: ["chair"], 857: ["chair"], 703: ["bench"], 532: ["table"], 564: ["bed"], 520: ["bed"], 831: ["sofa"],
    861: ["toilet"], 896: ["sink"], 440: ["beer", "bottle"], 441: ["beer", "glass"], 907: ["wine", "bottle"],
    737: ["bottle"], 898: ["bottle"], 720: ["bottle", "medicine"], 504: ["mug", "cup", "coffee"], 505: ["coffee"],
    550: ["coffee"], 968: ["drink"], 967: ["coffee", "drink"], 966: ["wine", "drink"], 969: ["drink"], 572: ["glass"],
    418: ["pen"], 563: ["pen"], 749: ["pen"], 463: ["bucket"], 790: ["basket"], 588: ["basket"], 729: ["kitchen"],
    534: ["kitchen", "appliance"], 760: ["kitchen", "appliance"], 827: ["kitchen", "appliance"],
    859: ["kitchen", "appliance"], 651: ["kitchen", "appliance"], 891: ["kitchen", "appliance"], 897: ["appliance"],
    882: ["appliance"], 545: ["appliance"], 811: ["appliance", "heater"], 596: ["axe"], 491: ["chainsaw"],
    740: ["drill"], 515: ["hat"], 808: ["hat"], 439: ["hat"], 667: ["hat", "graduation"], 400: ["graduation"],
    518: ["helmet"], 560: ["helmet", "american football"], 715: ["helmet"], 568: ["coat"], 617: ["coat"],
    869: ["coat"], 578: ["dress"], 601: ["skirt"], 655: ["skirt"], 689: ["skirt"], 836: ["glasses"], 837: ["glasses"],
    457: ["tie"], 451: ["tie"], 906: ["tie"], 652: ["uniform", "military"], 514: ["boot", "shoe"], 502: ["shoe"],
    630: ["shoe"], 770: ["shoe", "sneaker"], 774: ["shoe"], 748: ["handbag", "bag"], 414: ["bag"], 636: ["bag"],
    728: ["bag"], 797: ["camping"], 672: ["tent", "camping"], 915: ["tent"], 982: ["wedding", "person"],
    981: ["baseball", "person"], 983: ["diving", "underwater", "person"], 801: ["diving"], 805: ["football", "ball"],
    852: ["tennis", "ball"], 752: ["tennis"], 429: ["ball"], 430: ["ball"], 522: ["ball"], 574: ["golf", "ball"],
    575: ["golf"], 722: ["table tennis", "ball"], 768: ["rugby", "ball"], 890: ["ball"], 746: ["ice hockey"],
    795: ["skiing"], 450: ["winter sport"], 802: ["snow"], 803: ["snow"], 543: ["fitness"], 422: ["fitness"],
    747: ["boxing"], 416: ["gymnastics"], 602: ["gymnastics"], 702: ["gymnastics"], 701: ["parachuting"],
    736: ["billiards"], 821: ["bridge"], 839: ["bridge"], 888: ["bridge"], 497: ["church"], 442: ["church"],
    663: ["monastery"], 668: ["mosque"], 832: ["temple"], 406: ["church"], 887: ["church"], 483: ["castle"],
    698: ["palace"], 912: ["fence"], 716: ["fence"], 489: ["fence"], 825: ["wall"], 424: ["shop"], 415: ["shop"],
    454: ["shop"], 467: ["shop"], 509: ["shop"], 582: ["shop", "supermarket"], 788: ["shop"], 860: ["shop"],
    865: ["shop"], 607: ["halloween", "pumpkin"], 496: ["christmas"], 850: ["toy"], 611: ["puzzle"], 918: ["puzzle"],
    921: ["book"], 917: ["book"], 923: ["food", "meal"], 924: ["dip"], 925: ["soup"], 926: ["soup"], 927: ["dessert"],
    928: ["dessert"], 929: ["dessert"], 930: ["bread"], 931: ["bread"], 932: ["bread"], 933: ["burger", "fast food"],
    934: ["fast food"], 959: ["pasta"], 960: ["chocolate", "dessert"], 961: ["baking"], 964: ["pie"], 940: ["squash"],
    941: ["squash"], 942: ["squash"], 945: ["pepper"], 970: ["mountain"], 980: ["mountain"], 975: ["lake"],
    976: ["coast"], 978: ["beach", "sea", "coast"], 977: ["beach"], 973: ["sea", "underwater"], 985: ["flower"],
    986: ["flower", "orchid"], 984: ["field", "flower"], 991: ["mushroom"], 992: ["mushroom"], 993: ["mushroom"],
    994: ["mushroom"], 995: ["mushroom"], 996: ["mushroom"], 997: ["mushroom"], 947: ["mushroom"], 987: ["crop"],
    998: ["crop"], 958: ["farm"], 815: ["spider"], 599: ["bee"], 920: ["street"], 919: ["street", "sign"],
    704: ["street"], 637: ["street"], 640: ["street"], 571: ["petrol station"], 437: ["coast"], 536: ["harbour"],
    718: ["harbour"], 460: ["harbour"],
}
# fmt: on

# Animals and other classes that come in index ranges: (first, last, hierarchy prefix, generic keywords).
RANGES: list[tuple[int, int, str, list[str]]] = [
    (0, 1, "Animals|Fish", ["fish"]),
    (2, 4, "Animals|Fish|Sharks", ["shark", "fish"]),
    (5, 6, "Animals|Fish|Rays", ["ray", "fish"]),
    (7, 8, "Animals|Birds|Poultry", ["chicken", "bird"]),
    (9, 24, "Animals|Birds", ["bird"]),
    (25, 29, "Animals|Amphibians", ["amphibian"]),
    (30, 32, "Animals|Amphibians|Frogs", ["frog", "amphibian"]),
    (33, 37, "Animals|Reptiles|Turtles", ["turtle", "reptile"]),
    (38, 48, "Animals|Reptiles|Lizards", ["lizard", "reptile"]),
    (49, 50, "Animals|Reptiles|Crocodilians", ["reptile"]),
    (51, 51, "Animals|Dinosaurs", ["dinosaur"]),
    (52, 68, "Animals|Reptiles|Snakes", ["snake", "reptile"]),
    (69, 69, "Animals|Fossils", ["fossil"]),
    (70, 71, "Animals|Arachnids", ["arachnid"]),
    (72, 77, "Animals|Arachnids|Spiders", ["spider"]),
    (78, 78, "Animals|Arachnids", ["arachnid"]),
    (79, 79, "Animals|Invertebrates", []),
    (80, 86, "Animals|Birds|Game Birds", ["bird"]),
    (87, 90, "Animals|Birds|Parrots", ["parrot", "bird"]),
    (91, 96, "Animals|Birds", ["bird"]),
    (97, 100, "Animals|Birds|Waterfowl", ["waterfowl", "bird"]),
    (101, 101, "Animals|Elephants", ["elephant"]),
    (102, 103, "Animals|Mammals", ["mammal"]),
    (104, 106, "Animals|Marsupials", ["marsupial"]),
    (107, 109, "Animals|Sea Life", ["sea life"]),
    (110, 111, "Animals|Invertebrates|Worms", ["worm"]),
    (112, 112, "Animals|Sea Life", ["shell", "sea life"]),
    (113, 114, "Animals|Invertebrates", ["snail"]),
    (115, 116, "Animals|Sea Life", ["sea life"]),
    (117, 117, "Animals|Sea Life", ["shell", "sea life"]),
    (118, 121, "Animals|Crustaceans|Crabs", ["crab", "crustacean"]),
    (122, 123, "Animals|Crustaceans|Lobsters", ["lobster", "crustacean"]),
    (124, 124, "Animals|Crustaceans", ["crustacean"]),
    (125, 125, "Animals|Crustaceans|Crabs", ["crab", "crustacean"]),
    (126, 126, "Animals|Crustaceans", ["crustacean"]),
    (127, 146, "Animals|Birds|Water Birds", ["bird"]),
    (147, 150, "Animals|Marine Mammals", ["marine mammal"]),
    (151, 268, "Animals|Dogs", ["dog"]),
    (269, 271, "Animals|Wild Dogs|Wolves", ["wolf", "wild animal"]),
    (272, 275, "Animals|Wild Dogs", ["wild dog", "wild animal"]),
    (276, 276, "Animals|Hyenas", ["wild animal"]),
    (277, 280, "Animals|Foxes", ["fox", "wild animal"]),
    (281, 285, "Animals|Cats", ["cat"]),
    (286, 286, "Animals|Big Cats", ["big cat", "wild cat", "wild animal"]),
    (287, 287, "Animals|Wild Cats", ["wild cat", "wild animal"]),
    (288, 293, "Animals|Big Cats", ["big cat", "wild cat", "wild animal"]),
    (294, 297, "Animals|Bears", ["bear", "wild animal"]),
    (298, 299, "Animals|Small Mammals", ["mammal"]),
    (300, 307, "Animals|Insects|Beetles", ["beetle", "insect"]),
    (308, 320, "Animals|Insects", ["insect"]),
    (321, 326, "Animals|Insects|Butterflies", ["butterfly", "insect"]),
    (327, 329, "Animals|Sea Life", ["sea life"]),
    (330, 332, "Animals|Rabbits", ["rabbit"]),
    (333, 338, "Animals|Rodents", ["rodent"]),
    (339, 339, "Animals|Horses", ["horse"]),
    (340, 340, "Animals|Wild Animals", ["wild animal"]),
    (341, 343, "Animals|Pigs", ["pig"]),
    (344, 344, "Animals|Wild Animals", ["wild animal"]),
    (345, 347, "Animals|Cattle", ["bovine"]),
    (348, 350, "Animals|Sheep and Goats", []),
    (351, 353, "Animals|Antelopes", ["antelope", "wild animal"]),
    (354, 355, "Animals|Camels", []),
    (356, 362, "Animals|Small Mammals", ["mammal"]),
    (363, 364, "Animals|Mammals", ["mammal"]),
    (365, 369, "Animals|Primates|Apes", ["ape", "primate"]),
    (370, 382, "Animals|Primates|Monkeys", ["monkey", "primate"]),
    (383, 384, "Animals|Primates|Lemurs", ["lemur", "primate"]),
    (385, 386, "Animals|Elephants", ["elephant"]),
    (387, 388, "Animals|Pandas", ["panda"]),
    (389, 397, "Animals|Fish", ["fish"]),
    (924, 935, "Food|Dishes", ["food"]),
    (936, 947, "Food|Vegetables", ["vegetable", "food"]),
    (948, 957, "Food|Fruit", ["fruit", "food"]),
    (959, 965, "Food|Dishes", ["food"]),
    (966, 969, "Food|Drinks", []),
    (970, 970, "Nature|Landscapes", ["landscape"]),
    (972, 980, "Nature|Landscapes", ["landscape"]),
    (984, 986, "Plants|Flowers", ["plant"]),
    (987, 990, "Plants|Seeds and Fruits", ["plant"]),
    (991, 997, "Plants|Fungi", ["fungus"]),
]

# Everything else by name (first name in Labels.txt): hierarchy prefix -> (generic keywords, class names).
# fmt: off
GROUPS: dict[str, tuple[list[str], list[str]]] = {
    "Vehicles|Aircraft": (
        ["aircraft"],
        [
            "airliner", "airship", "warplane", "wing",
        ],
    ),
    "Vehicles|Spacecraft": (
        [],
        [
            "space shuttle",
        ],
    ),
    "Vehicles|Boats": (
        ["boat"],
        [
            "aircraft carrier", "canoe", "catamaran", "container ship", "fireboat", "gondola", "lifeboat", "liner",
            "paddlewheel", "pirate", "schooner", "speedboat", "submarine", "trimaran", "wreck", "yawl", "amphibian",
        ],
    ),
    "Vehicles|Cars": (
        ["car"],
        [
            "beach wagon", "cab", "convertible", "jeep", "limousine", "minivan", "Model T", "racer", "sports car",
        ],
    ),
    "Vehicles|Car Parts": (
        ["car"],
        [
            "car wheel", "car mirror", "grille", "disk brake", "odometer", "seat belt", "oil filter",
        ],
    ),
    "Vehicles|Buses": (
        ["vehicle"],
        [
            "minibus", "school bus", "trolleybus",
        ],
    ),
    "Vehicles|Trucks": (
        ["vehicle"],
        [
            "garbage truck", "moving van", "pickup", "tow truck", "trailer truck",
        ],
    ),
    "Vehicles|Emergency Vehicles": (
        ["vehicle"],
        [
            "ambulance", "fire engine", "police van",
        ],
    ),
    "Vehicles|Trains": (
        ["railway"],
        [
            "bullet train", "electric locomotive", "steam locomotive", "freight car", "passenger car", "streetcar",
        ],
    ),
    "Vehicles|Bicycles": (
        ["cycling"],
        [
            "bicycle-built-for-two", "mountain bike", "tricycle", "unicycle",
        ],
    ),
    "Vehicles|Motorbikes": (
        ["vehicle"],
        [
            "moped", "motor scooter",
        ],
    ),
    "Vehicles|Farm Vehicles": (
        ["farm machinery", "vehicle"],
        [
            "harvester", "thresher", "tractor",
        ],
    ),
    "Vehicles|Military Vehicles": (
        ["vehicle"],
        [
            "tank", "half track",
        ],
    ),
    "Vehicles|Carts": (
        ["vehicle"],
        [
            "horse cart", "oxcart", "jinrikisha", "dogsled", "go-kart", "golfcart", "forklift",
        ],
    ),
    "Vehicles|Motorhomes": (
        ["vehicle"],
        [
            "recreational vehicle", "mobile home",
        ],
    ),
    "Vehicles|Snow Vehicles": (
        ["vehicle"],
        [
            "snowmobile", "snowplow",
        ],
    ),
    "Buildings|Religious": (
        ["religion"],
        [
            "altar", "bell cote", "church", "monastery", "mosque", "stupa", "vestment",
        ],
    ),
    "Buildings|Shops": (
        ["shop"],
        [
            "bakery", "barbershop", "bookshop", "butcher shop", "confectionery", "grocery store", "shoe shop",
            "tobacco shop", "toyshop",
        ],
    ),
    "Buildings|Venues": (
        ["building"],
        [
            "restaurant", "cinema", "library", "planetarium", "stage",
        ],
    ),
    "Buildings|Landmarks": (
        ["landmark"],
        [
            "castle", "palace", "dome", "triumphal arch", "obelisk", "megalith", "totem pole",
        ],
    ),
    "Buildings|Architecture": (
        ["building"],
        [
            "prison", "greenhouse", "water tower", "beacon", "boathouse", "barn", "apiary", "lumbermill",
            "cliff dwelling", "yurt", "thatch", "tile roof", "vault", "patio", "fountain", "radio telescope",
            "solar dish",
        ],
    ),
    "Buildings|Bridges": (
        ["bridge"],
        [
            "steel arch bridge", "suspension bridge", "viaduct",
        ],
    ),
    "Buildings|Waterfront": (
        ["waterfront"],
        [
            "pier", "dock", "dam", "breakwater", "drilling platform",
        ],
    ),
    "Buildings|Fences and Walls": (
        [],
        [
            "stone wall", "worm fence", "picket fence", "chainlink fence",
        ],
    ),
    "Buildings|Interior": (
        ["interior"],
        [
            "bannister", "sliding door", "shoji", "window screen", "window shade", "theater curtain", "home theater",
            "turnstile",
        ],
    ),
    "Objects|Street": (
        [],
        [
            "manhole cover", "mailbox", "parking meter", "pay-phone", "gas pump", "street sign", "traffic light",
        ],
    ),
    "Objects|Musical Instruments": (
        ["musical instrument", "music"],
        [
            "accordion", "acoustic guitar", "banjo", "bassoon", "cello", "chime", "cornet", "drum", "drumstick",
            "electric guitar", "flute", "French horn", "gong", "grand piano", "harmonica", "harp", "maraca",
            "marimba", "oboe", "ocarina", "organ", "panpipe", "sax", "steel drum", "trombone", "upright", "violin",
            "pick",
        ],
    ),
    "Objects|Electronics": (
        ["electronics"],
        [
            "cellular telephone", "computer keyboard", "desktop computer", "laptop", "notebook", "monitor", "screen",
            "television", "iPod", "CD player", "cassette player", "tape player", "cassette", "radio", "loudspeaker",
            "modem", "mouse", "printer", "photocopier", "projector", "remote control", "hand-held computer",
            "dial telephone", "joystick", "hard disc", "oscilloscope", "Polaroid camera", "reflex camera", "lens cap",
            "microphone", "entertainment center", "switch", "space bar", "typewriter keyboard", "digital clock",
            "digital watch", "web site", "cash machine", "slot", "vending machine", "scoreboard", "spotlight",
        ],
    ),
    "Objects|Appliances": (
        [],
        [
            "dishwasher", "refrigerator", "stove", "toaster", "waffle iron", "espresso maker", "microwave",
            "rotisserie", "electric fan", "space heater", "vacuum", "washer", "iron", "hand blower", "sewing machine",
            "Crock Pot",
        ],
    ),
    "Objects|Kitchen": (
        [],
        [
            "frying pan", "wok", "caldron", "Dutch oven", "coffeepot", "teapot", "coffee mug", "beer glass", "goblet",
            "wine bottle", "beer bottle", "pop bottle", "water bottle", "water jug", "whiskey jug", "pitcher",
            "measuring cup", "mixing bowl", "soup bowl", "ladle", "spatula", "wooden spoon", "plate rack", "dishrag",
            "cocktail shaker", "corkscrew", "can opener", "strainer", "saltshaker", "tray", "cleaver", "mortar",
            "milk can", "nipple",
        ],
    ),
    "Objects|Furniture": (
        ["furniture"],
        [
            "bookcase", "chiffonier", "china cabinet", "cradle", "crib", "desk", "dining table", "file",
            "folding chair", "four-poster", "chest", "barber chair", "park bench", "rocking chair", "studio couch",
            "throne", "wardrobe", "medicine chest", "bassinet", "table lamp", "lampshade",
        ],
    ),
    "Objects|Bathroom": (
        [],
        [
            "toilet seat", "bathtub", "tub", "washbasin", "shower curtain", "soap dispenser",
        ],
    ),
    "Objects|Textiles": (
        [],
        [
            "quilt", "pillow", "doormat", "prayer rug", "mosquito net", "bath towel", "handkerchief", "paper towel",
            "toilet tissue", "wool", "velvet", "knot", "sleeping bag",
        ],
    ),
    "Objects|Household": (
        [],
        [
            "ashcan", "bucket", "broom", "swab", "plunger", "umbrella", "vase", "candle", "lighter", "matchstick",
            "hourglass", "analog clock", "wall clock", "stopwatch", "sundial", "barometer", "magnetic compass",
            "binoculars", "loupe", "tripod", "safe", "padlock", "combination lock", "chain", "hook", "nail", "screw",
            "safety pin", "buckle", "coil", "thimble", "spindle", "rule", "scale", "crate", "carton", "packet",
            "envelope", "plastic bag", "shopping basket", "hamper", "barrel", "rain barrel", "birdhouse", "mousetrap",
            "brass", "shopping cart", "torch", "pole", "flagpole", "maypole", "fire screen", "radiator", "pedestal",
            "potter's wheel", "bottlecap", "whistle",
        ],
    ),
    "Objects|Health and Beauty": (
        [],
        [
            "pill bottle", "lotion", "sunscreen", "hair spray", "face powder", "lipstick", "perfume", "Band Aid",
            "syringe", "stethoscope", "Petri dish", "beaker", "crutch", "stretcher", "neck brace", "oxygen mask",
            "gasmask", "muzzle", "mask",
        ],
    ),
    "Objects|Office": (
        [],
        [
            "rubber eraser", "pencil box", "pencil sharpener", "ballpoint", "fountain pen", "quill", "binder",
            "paintbrush", "abacus", "slide rule", "letter opener", "comic book", "crossword puzzle", "book jacket",
            "menu",
        ],
    ),
    "Objects|Toys and Party": (
        [],
        [
            "teddy", "jigsaw puzzle", "pinwheel", "piggy bank", "balloon", "bubble", "jack-o'-lantern",
            "Christmas stocking", "carousel", "swing", "maze",
        ],
    ),
    "Objects|Tools": (
        ["tool"],
        [
            "hammer", "hatchet", "chain saw", "screwdriver", "power drill", "lawn mower", "shovel", "plane",
            "carpenter's kit", "plow", "barrow", "crane (machine)", "reel",
        ],
    ),
    "Objects|Weapons": (
        ["weapon"],
        [
            "assault rifle", "rifle", "revolver", "cannon", "missile", "projectile", "holster", "scabbard", "bow",
            "shield", "guillotine",
        ],
    ),
    "Objects|Armour": (
        ["armour"],
        [
            "breastplate", "cuirass", "chain mail", "bulletproof vest",
        ],
    ),
    "Objects|Fashion": (
        ["fashion"],
        [
            "cowboy boot", "clog", "Loafer", "running shoe", "sandal", "purse", "backpack", "mailbag", "wallet",
            "necklace", "hair slide", "feather boa",
        ],
    ),
    "Objects|Camping": (
        ["camping"],
        [
            "mountain tent",
        ],
    ),
    "People|Clothing": (
        ["clothing"],
        [
            "abaya", "academic gown", "apron", "bathing cap", "bib", "bikini", "bolo tie", "bonnet", "bow tie",
            "brassiere", "cardigan", "cloak", "cowboy hat", "crash helmet", "diaper", "fur coat", "gown", "hoopskirt",
            "jean", "jersey", "kimono", "lab coat", "maillot", "tank suit", "military uniform", "miniskirt", "mitten",
            "overskirt", "pajama", "poncho", "sarong", "shower cap", "ski mask", "sock", "sombrero", "stole", "suit",
            "sweatshirt", "swimming trunks", "trench coat", "Windsor tie", "mortarboard", "bearskin", "pickelhaube",
            "wig",
        ],
    ),
    "People|Accessories": (
        ["accessory"],
        [
            "sunglass", "sunglasses",
        ],
    ),
    "People|Occasions": (
        ["person"],
        [
            "groom",
        ],
    ),
    "Sports|Ball Games": (
        ["sport"],
        [
            "baseball", "basketball", "croquet ball", "golf ball", "ping-pong ball", "rugby ball", "soccer ball",
            "tennis ball", "volleyball", "racket", "football helmet", "ballplayer",
        ],
    ),
    "Sports|Winter Sports": (
        ["sport"],
        [
            "ski", "bobsled", "puck",
        ],
    ),
    "Sports|Fitness": (
        ["sport"],
        [
            "dumbbell", "barbell", "punching bag", "knee pad",
        ],
    ),
    "Sports|Gymnastics": (
        ["sport"],
        [
            "balance beam", "horizontal bar", "parallel bars",
        ],
    ),
    "Sports|Water Sports": (
        ["sport"],
        [
            "snorkel", "scuba diver", "paddle",
        ],
    ),
    "Sports|Other Sports": (
        ["sport"],
        [
            "parachute", "pool table",
        ],
    ),
    "Food|Dishes": (
        ["food"],
        [
            "plate",
        ],
    ),
    "Food|Drinks": ([], []),
    "Nature|Farmland": (
        ["farm"],
        [
            "hay",
        ],
    ),
    "Nature|Details": ([], []),
    "Animals|Spiders": (
        ["spider"],
        [
            "spider web",
        ],
    ),
    "Animals|Insects": (
        ["insect"],
        [
            "honeycomb",
        ],
    ),
    "Plants|Potted Plants": (
        ["plant"],
        [
            "pot",
        ],
    ),
    "Plants|Crops": (
        ["plant"],
        [
            "ear",
        ],
    ),
}
# fmt: on

# Whole hierarchies set by hand where the rules above give the wrong home.
HIERARCHY_OVERRIDE = {
    981: "Sports|Ball Games|Baseball Player",
    983: "Sports|Water Sports|Scuba Diver",
    982: "People|Occasions|Groom",
}


SMALL_WORDS = {"and", "of", "the", "for", "in", "on"}


def title(keyword: str) -> str:
    """'golden retriever' -> 'Golden Retriever'; keeps inner hyphens and capitals ('Black-and-tan Coonhound')."""
    words = keyword.split(" ")
    return " ".join(
        word if index and word in SMALL_WORDS else word[:1].upper() + word[1:] for index, word in enumerate(words)
    )


def read_labels(path: Path) -> list[str]:
    names = []
    for line in path.read_text(encoding="utf-8").splitlines():
        index, rest = line.split(",", 1)
        assert int(index) == len(names), f"{path}: line {len(names) + 1} has index {index}"
        names.append(rest.split(",")[0].strip())
    assert len(names) == 1000, f"{path}: expected 1000 classes, got {len(names)}"
    return names


def build(names: list[str]) -> list[dict[str, str]]:
    raw = [RAW_LABEL.get(index, name) for index, name in enumerate(names)]
    assert len(set(raw)) == 1000, "raw labels are not unique"
    home: dict[int, tuple[str, list[str]]] = {}
    for first, last, prefix, generic in RANGES:
        for index in range(first, last + 1):
            assert index not in home, f"class {index} ({raw[index]}) covered twice"
            home[index] = (prefix, generic)
    by_name = {label: index for index, label in enumerate(raw)}
    for prefix, (generic, members) in GROUPS.items():
        for member in members:
            assert member in by_name, f"{prefix}: unknown class name {member!r}"
            index = by_name[member]
            assert index not in home, f"class {index} ({member}) covered twice"
            home[index] = (prefix, generic)
    missing = [f"{index}:{raw[index]}" for index in range(1000) if index not in home]
    assert not missing, f"classes without a rule: {missing}"
    rows = []
    for index in range(1000):
        prefix, generic = home[index]
        leaf = LEAF.get(index, raw[index])
        keywords: list[str] = []
        for keyword in [leaf, *EXTRA.get(index, []), *generic]:
            if keyword.lower() not in {k.lower() for k in keywords}:
                keywords.append(keyword)
        hierarchy = HIERARCHY_OVERRIDE.get(index, f"{prefix}|{title(leaf)}")
        assert all(part.strip() for part in hierarchy.split("|")), hierarchy
        rows.append(
            {
                "index": str(index),
                "label": raw[index],
                "keywords": ";".join(keywords),
                "hierarchy": hierarchy,
                "category": hierarchy.split("|")[0],
            }
        )
    return rows


def main() -> None:
    labels = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_LABELS
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else DEFAULT_OUT
    rows = build(read_labels(labels))
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["index", "label", "keywords", "hierarchy", "category"])
        writer.writeheader()
        writer.writerows(rows)
    categories: dict[str, int] = {}
    for row in rows:
        categories[row["category"]] = categories.get(row["category"], 0) + 1
    print(f"wrote {out}: {len(rows)} classes; categories {dict(sorted(categories.items()))}")


if __name__ == "__main__":
    main()
