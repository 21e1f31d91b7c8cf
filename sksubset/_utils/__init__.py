"""Private helpers shared by every layer of sksubset (nothing here imports the rest of it).

* :mod:`~sksubset._utils.validation`: arrays and tensors checked and converted, devices;
* :mod:`~sksubset._utils.budget`: a budget as a number of rows, split over groups;
* :mod:`~sksubset._utils.sampling`: draws that cycle through the data across rounds;
* :mod:`~sksubset._utils.progress`: progress bars where a person watches.
"""
