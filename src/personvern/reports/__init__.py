"""Documents generated from the policy and the register: the privacy notice, the record of processing, request packages."""
