import SynmixCore
