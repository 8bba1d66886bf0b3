"""CPU per refined hit, a git revision against the working tree (evaluation.hitspeed says what it measures).

    PYTHONPATH=. python scripts/hit_speed.py --before 633cc59 --source ../shared/data/extra/trackswitch-demo
"""

from evaluation.hitspeed import main

if __name__ == "__main__":
    main()
